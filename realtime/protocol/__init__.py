"""Sans-I/O codecs: bytes and text in, packets out, and back.

Nothing in this package opens a socket, reads a clock or imports an async
library; a test checks it.
"""
