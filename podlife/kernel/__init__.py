"""The bottom of the house: values and protocols every other room may use, and that import no room above.

``images``: the reference images and how a cluster names them; ``defaults``: the API's defaults
and podlife's own labels; ``evidence``: the protocol of the sink tests leave figures and text in.
"""
