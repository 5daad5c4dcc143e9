"""The model contract: what an nst model takes and gives, readable without torch.

``spec`` (ExportSpec, TensorSpec), ``metadata`` (ModelMetadata in ``metadata_props``),
``profiles`` (TensorRT-style min/opt/max shapes, shape parsing, per-input shapes) and
``noise`` (texture nets' seeded noise inputs). Every other nst package imports these; this
package imports only ``nst`` core and numpy.
"""
