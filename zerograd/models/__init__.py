"""Transformer models with Hugging Face-compatible weights."""

from zerograd.models.bert import BERT, BertConfig, BertForSequenceClassification
