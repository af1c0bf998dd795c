"""Card rules: from the clinical picture and the orders to the cards worth showing.

Pure: no Flask, no HTTP, no card wording (that lives in ``cards/``); thresholds
and suggested orders are data in ``config/guidelines/``.
"""
