"""The web page of ``nst serve`` (plain HTML, CSS and JS; package data, like ``nst.assets``)."""
