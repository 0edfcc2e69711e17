"""Data utilities: datasets, loaders, preprocessing (``zerograd.data``)."""

from zerograd.data.dataset import Dataset, Subset, TensorDataset, random_split
from zerograd.data.loader import DataLoader, default_collate
from zerograd.data.preprocessing import (
    MinMaxScaler,
    StandardScaler,
    drop_nonfinite,
    one_hot,
    train_test_split,
)
from zerograd.data.sampler import DistributedSampler
from zerograd.data.tokenizers import CharTokenizer, Tokenizer, train_bpe
