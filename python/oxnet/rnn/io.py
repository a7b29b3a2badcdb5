"""Sentence data for RNNs (MXNet 1.9.1 ``python/mxnet/rnn/io.py``): word-to-id encoding and a
bucketing iterator that batches sentences of similar length together."""
import bisect
import logging
import random

import numpy as np

from ..io import DataIter, DataBatch, DataDesc
from .. import ndarray
from ..base import ValueAssertionError

__all__ = ["encode_sentences", "BucketSentenceIter"]


def encode_sentences(sentences, vocab=None, invalid_label=-1, invalid_key="\n",
                     start_label=0, unknown_token=None):
    """Encodes lists of words as lists of integer ids; returns ``(encoded, vocab)``.

    Without ``vocab`` a new one is built: ``invalid_key`` maps to ``invalid_label`` and each new
    word gets the next id from ``start_label`` on, skipping ``invalid_label``. With ``vocab``,
    words missing from it map to ``unknown_token`` (added with the next free id if needed), or
    raise ValueError when ``unknown_token`` is None.
    """
    new_vocab = vocab is None
    if new_vocab:
        vocab = {invalid_key: invalid_label}
        next_id = start_label
    else:
        ids = [v for v in vocab.values() if isinstance(v, (int, np.integer))]
        next_id = max([start_label - 1] + ids) + 1

    def add(word):
        nonlocal next_id
        if next_id == invalid_label:
            next_id += 1
        vocab[word] = next_id
        next_id += 1

    encoded = []
    for sent in sentences:
        coded = []
        for word in sent:
            if word not in vocab:
                if not new_vocab:
                    if unknown_token is None:
                        raise ValueAssertionError("Unknown token %r: not in the given vocab and no "
                                         "unknown_token was given" % (word,))
                    if unknown_token not in vocab:
                        add(unknown_token)
                    word = unknown_token
                else:
                    add(word)
            coded.append(vocab[word])
        encoded.append(coded)
    return encoded, vocab


class BucketSentenceIter(DataIter):
    """Batches of encoded sentences padded to the next bucket length.

    Each sentence goes to the smallest bucket at least as long (longer ones are discarded) and
    is padded with ``invalid_label``; the label is the sentence shifted left by one word.
    Batches hold one bucket each (``bucket_key`` = its length); their order and the sentences
    within a bucket are shuffled at every reset (Python's ``random`` and ``np.random``). A
    bucket's last partial batch is dropped. Without ``buckets``, every length shared by at least
    ``batch_size`` sentences is a bucket. ``layout`` is batch major when it starts with N ('NT',
    'NTC'), time major when N is second ('TN').
    """

    def __init__(self, sentences, batch_size, buckets=None, invalid_label=-1,
                 data_name="data", label_name="softmax_label", dtype="float32", layout="NT"):
        super(BucketSentenceIter, self).__init__(batch_size)
        # As MXNet, only where N stands matters ('NTC' is batch major).
        if not isinstance(layout, str) or layout.find("N") not in (0, 1):
            raise ValueError("Invalid layout %r: N must come first (batch major, 'NT') or second "
                             "(time major, 'TN')" % (layout,))
        if int(batch_size) != batch_size or batch_size <= 0:
            raise ValueError("batch_size must be a positive integer, got %r" % (batch_size,))
        batch_size = int(batch_size)
        if not buckets:
            counts = np.bincount([len(s) for s in sentences]) if len(sentences) else []
            buckets = [length for length, n in enumerate(counts) if n >= batch_size]
        buckets = sorted(buckets)
        if not buckets:  # MXNet's error type (its max() of no buckets)
            raise ValueError("BucketSentenceIter: no bucket: no sentence length occurs "
                             "batch_size=%d times, and none were given" % batch_size)

        per_bucket = [[] for _ in buckets]
        ndiscard = 0
        for sent in sentences:
            b = bisect.bisect_left(buckets, len(sent))
            if b == len(buckets):
                ndiscard += 1
                continue
            # Cast as numpy 1 did for MXNet (-1 pads a uint8 row with 255).
            row = np.full((buckets[b],), np.asarray(invalid_label).astype(dtype), dtype=dtype)
            row[:len(sent)] = sent
            per_bucket[b].append(row)
        if ndiscard:
            logging.warning("BucketSentenceIter: discarded %d sentences longer than the largest "
                            "bucket %d.", ndiscard, buckets[-1])
        # Buckets that received no sentence are dropped.
        self.buckets = [length for length, rows in zip(buckets, per_bucket) if rows]
        self.data = [np.asarray(rows, dtype=dtype) for rows in per_bucket if rows]
        if not self.buckets:
            raise ValueError("BucketSentenceIter: no sentence fits in buckets %r" % (buckets,))

        self.batch_size = batch_size
        self.data_name = data_name
        self.label_name = label_name
        self.dtype = dtype
        self.invalid_label = invalid_label
        self.nddata = []
        self.ndlabel = []
        self.layout = layout
        self.major_axis = layout.find("N")
        self.default_bucket_key = max(self.buckets)
        shape = (batch_size, self.default_bucket_key) if self.major_axis == 0 \
            else (self.default_bucket_key, batch_size)
        self.provide_data = [DataDesc(name=data_name, shape=shape, layout=layout)]
        self.provide_label = [DataDesc(name=label_name, shape=shape, layout=layout)]

        self.idx = [(i, j) for i, rows in enumerate(self.data)
                    for j in range(0, len(rows) - batch_size + 1, batch_size)]
        self.curr_idx = 0
        self.reset()

    def reset(self):
        """Reshuffles the batch order and each bucket's sentences."""
        self.curr_idx = 0
        random.shuffle(self.idx)
        for rows in self.data:
            np.random.shuffle(rows)
        self.nddata = []
        self.ndlabel = []
        for rows in self.data:
            label = np.empty_like(rows)
            label[:, :-1] = rows[:, 1:]
            label[:, -1] = np.asarray(self.invalid_label).astype(label.dtype)
            self.nddata.append(ndarray.array(rows, dtype=self.dtype))
            self.ndlabel.append(ndarray.array(label, dtype=self.dtype))

    def next(self):
        """The next `DataBatch` (with ``bucket_key`` and its own provide_data/label)."""
        if self.curr_idx == len(self.idx):
            raise StopIteration
        i, j = self.idx[self.curr_idx]
        self.curr_idx += 1
        data = self.nddata[i][j:j + self.batch_size]
        label = self.ndlabel[i][j:j + self.batch_size]
        if self.major_axis == 1:
            data, label = data.T, label.T
        return DataBatch([data], [label], pad=0, bucket_key=self.buckets[i],
                         provide_data=[DataDesc(name=self.data_name, shape=data.shape,
                                                layout=self.layout)],
                         provide_label=[DataDesc(name=self.label_name, shape=label.shape,
                                                 layout=self.layout)])
