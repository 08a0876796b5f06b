"""Invoice and credit-note PDFs: :mod:`paystead.billing.pdf.render` (docs/invoice_pdfs.md)."""
