"""Transformer models with Hugging Face-compatible weights."""

from zerograd.models.bert import BERT, BertConfig, BertForSequenceClassification
from zerograd.models.generation import generate
from zerograd.models.gpt import GPT, GPTConfig
from zerograd.models.llama import Llama
from zerograd.models.llama_config import LlamaConfig
from zerograd.models.pretrained import from_pretrained
