"""Simulate: allocator models (cma_bitmap, coherent, bestfit, genalloc), buffer formats, and the
engine that runs scenarios on the placed regions (engine.py) and sizes them (size.py).

Kept empty of imports: validate uses `formats` and must not pay for the engine.
"""
