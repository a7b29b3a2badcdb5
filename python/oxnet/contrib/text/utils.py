"""Counting tokens in a string (``mx.contrib.text.utils``)."""
import collections
import re


def count_tokens_from_str(source_str, token_delim=' ', seq_delim='\n', to_lower=False,
                          counter_to_update=None):
    """Counts the tokens of ``source_str``, split on the regular expressions ``token_delim``
    and ``seq_delim`` (empty pieces are dropped), into a new ``collections.Counter`` or into
    ``counter_to_update`` (which is returned)."""
    if not isinstance(source_str, str):
        raise TypeError("count_tokens_from_str: source_str must be a str, got %s"
                        % type(source_str).__name__)
    if counter_to_update is not None and not isinstance(counter_to_update, collections.Counter):
        raise TypeError("count_tokens_from_str: counter_to_update must be a collections.Counter "
                        "or None, got %s" % type(counter_to_update).__name__)
    tokens = [t for t in re.split(token_delim + '|' + seq_delim, source_str) if t]
    if to_lower:
        tokens = [t.lower() for t in tokens]
    if counter_to_update is None:
        return collections.Counter(tokens)
    counter_to_update.update(tokens)
    return counter_to_update
