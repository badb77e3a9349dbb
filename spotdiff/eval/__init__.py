"""`spotdiff eval`: run vision-language models on a generated split (predict), judge their
answers with an LLM against the ground truth (judge), and compute DiffSpot's metrics (score)."""
