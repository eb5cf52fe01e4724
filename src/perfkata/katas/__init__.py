"""Kata definitions: the base, the registry, and one subpackage per kata."""
