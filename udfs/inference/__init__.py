"""The inference stage: request codecs, endpoint requests, batching and retries (plain Python),
and thin Flink adapters around them."""
