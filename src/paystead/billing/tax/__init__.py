"""The tax engine: a small protocol (``base.TaxEngine``) and its implementations,
India GST (``gst.GstTax``) and a rate table (``rate_table.RateTableTax``)."""

from paystead.billing.tax.base import LineTax, Party, TaxableItem, TaxEngine, TaxLine, TaxResult

__all__ = ["LineTax", "Party", "TaxEngine", "TaxLine", "TaxResult", "TaxableItem"]
