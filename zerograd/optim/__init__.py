"""Optimizers, learning-rate schedules and gradient clipping (``zerograd.optim``)."""

from zerograd.optim import lr_scheduler
from zerograd.optim.adagrad import Adadelta, Adagrad
from zerograd.optim.adam import Adam, AdamW
from zerograd.optim.clip import clip_grad_norm_, clip_grad_value_
from zerograd.optim.lion import Lion
from zerograd.optim.optimizer import Optimizer
from zerograd.optim.rmsprop import RMSprop
from zerograd.optim.sgd import SGD
