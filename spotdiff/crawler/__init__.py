"""Polite, safe crawling into replayable page archives: `spotdiff crawl` and `spotdiff pages`."""
