"""ProxylessNAS inverted bottlenecks and SPOS ShuffleNetV2 blocks (filled in by the mobile space work)."""
