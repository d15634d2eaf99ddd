"""The bottom floor: vocabulary every other layer shares and that imports nothing above it.

`api` (action names, id patterns), `errors`, `credentials` (what credentials and providers
are), `fields` (reading loose API values), `records` (what a collection produces), `logfmt`
and `documents` (the YAML/JSON files users write).
"""
