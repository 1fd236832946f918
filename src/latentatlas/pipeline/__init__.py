"""The batch pipeline: records read, mapped (decode, preprocess, encode) and written, by one runner and its distributors."""
