"""The bring-up benchmark's parts; bench/run puts them together."""
