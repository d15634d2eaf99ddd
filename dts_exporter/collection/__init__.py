"""Fetching: which ids to cover (`targets`, `discovery`), one collection of them all
(`fanout`), what is remembered between collections (`history`), log lines on transitions
(`statelog`), and sharing one collection between scrapes (`caching`)."""
