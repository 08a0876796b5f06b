"""Payment gateways behind one small interface (``base.Gateway``)."""
