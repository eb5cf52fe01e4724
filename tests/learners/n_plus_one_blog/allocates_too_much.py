"""Asks for 10 GiB: the worker's address-space limit turns it into a MemoryError."""


def render_index(session):
    block = bytearray(10 * 1024**3)
    return [len(block)]
