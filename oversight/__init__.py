"""The oversight panel's reports: model card, fairness audit, transparency record, drift pages."""
