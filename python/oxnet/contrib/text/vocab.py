"""Token indexing (``mx.contrib.text.vocab.Vocabulary``)."""
import collections
import numbers

from . import _constants as C
from ...base import ValueAssertionError as TextArgError


class Vocabulary:
    """Indices for text tokens: the unknown token is index 0, then the reserved tokens in
    the given order, then the keys of ``counter`` by decreasing frequency (ties broken by
    token order), keeping at most ``most_freq_count`` of them and only those counted at
    least ``min_freq`` times."""

    def __init__(self, counter=None, most_freq_count=None, min_freq=1, unknown_token='<unk>',
                 reserved_tokens=None):
        # Numbers, as MXNet's asserts take them (a float count caps at its integer part).
        if not (isinstance(min_freq, numbers.Real) and min_freq > 0):
            raise TextArgError("Vocabulary: min_freq must be a positive number, got %r"
                               % (min_freq,))
        if most_freq_count is not None and not (isinstance(most_freq_count, numbers.Real)
                                                and most_freq_count >= 0):
            raise TextArgError("Vocabulary: most_freq_count must be None or a non-negative "
                               "number, got %r" % (most_freq_count,))
        if reserved_tokens is not None:
            reserved = set(reserved_tokens)
            if unknown_token in reserved:
                raise TextArgError("Vocabulary: reserved_tokens %r contain the unknown_token %r"
                                 % (list(reserved_tokens), unknown_token))
            if len(reserved) != len(reserved_tokens):
                raise TextArgError("Vocabulary: reserved_tokens %r contain duplicates"
                                 % (list(reserved_tokens),))
        self._unknown_token = unknown_token
        # A copy of the caller's sequence, tuple or list, as MXNet keeps it.
        self._reserved_tokens = None if reserved_tokens is None else reserved_tokens[:]
        self._idx_to_token = [unknown_token] + list(reserved_tokens or [])
        self._token_to_idx = {t: i for i, t in enumerate(self._idx_to_token)}
        if counter is not None:
            self._index_counter(counter, most_freq_count, min_freq)

    def _index_counter(self, counter, most_freq_count, min_freq):
        if not isinstance(counter, collections.Counter):
            raise TextArgError("Vocabulary: counter must be a collections.Counter, got %s"
                            % type(counter).__name__)
        special = set(self._idx_to_token)
        # Special tokens found in the counter are skipped and do not use up most_freq_count.
        cap = len(special) + (len(counter) if most_freq_count is None else int(most_freq_count))
        ordered = sorted(sorted(counter.items(), key=lambda kv: kv[0]),
                         key=lambda kv: kv[1], reverse=True)
        for token, freq in ordered:
            if freq < min_freq or len(self._idx_to_token) == cap:
                break
            if token not in special:
                self._token_to_idx[token] = len(self._idx_to_token)
                self._idx_to_token.append(token)

    def __len__(self):
        return len(self._idx_to_token)

    @property
    def token_to_idx(self):
        return self._token_to_idx

    @property
    def idx_to_token(self):
        return self._idx_to_token

    @property
    def unknown_token(self):
        return self._unknown_token

    @property
    def reserved_tokens(self):
        return self._reserved_tokens

    def to_indices(self, tokens):
        """The index of a token (or a list of indices for a list); unknown tokens give 0."""
        if not isinstance(tokens, list):
            return self._token_to_idx.get(tokens, C.UNKNOWN_IDX)
        return [self._token_to_idx.get(t, C.UNKNOWN_IDX) for t in tokens]

    def to_tokens(self, indices):
        """The token at an index (or a list of tokens for a list of indices)."""
        single = not isinstance(indices, list)
        idxs = [indices] if single else indices
        out = []
        for idx in idxs:
            if not isinstance(idx, numbers.Integral):
                raise TypeError("Vocabulary.to_tokens: token index %r is not an int" % (idx,))
            # Python's indexing, as MXNet's: a negative index counts from the end.
            if not -len(self) <= idx < len(self):
                raise ValueError("Vocabulary.to_tokens: token index %r is invalid (the vocabulary "
                                 "has indices 0..%d)" % (idx, len(self) - 1))
            out.append(self._idx_to_token[idx])
        return out[0] if single else out
