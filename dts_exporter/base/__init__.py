"""The bottom floor: vocabulary every other layer shares and that imports nothing above it."""
