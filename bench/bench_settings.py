"""Benchmark-only settings: the production settings plus the durable-write floor endpoint."""

from pulseboard.config.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
