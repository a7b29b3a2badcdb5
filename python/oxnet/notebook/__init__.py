"""Jupyter notebook helpers (``mx.notebook``). Import ``oxnet.notebook.callback`` explicitly,
as with MXNet; it needs pandas (and bokeh for the live charts) only when its classes are used.
"""
