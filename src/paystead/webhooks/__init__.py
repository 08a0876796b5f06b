"""Outbound webhooks: endpoints, Standard Webhooks signing, delivery with retries, replay."""
