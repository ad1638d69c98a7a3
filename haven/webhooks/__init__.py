"""Webhooks: the Hub's management API, HF-compatible payloads for repository events, and delivery by the
job queue with retries, exponential backoff, a delivery log and a guard against requests to internal hosts."""
