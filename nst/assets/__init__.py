"""Bundled assets: the default model, its style image and a sample photo."""
