"""The synthetic borrower population behind `reachwatch simulate`.

Split by concern: `profiles` (who borrowers are and how they answer), `population` (loans, due
dates, payments and ground-truth labels), `strategy` (how the collections team tries to reach
them), `output` (arrival order, injected faults, JSONL and Kafka). Everything draws from one
seeded `random.Random`, never the global generator or the wall clock, so a seed fixes the bytes.
"""
