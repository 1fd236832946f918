"""Search: the exact scan and its top-k, the FAISS index, the engine that merges them, SQL filters, ORB copies."""
