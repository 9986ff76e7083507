"""The home page: `rollups` (figures per quarter hour and currency, kept in the transaction
that changes them, and rebuilt from the source rows) and `home` (the figures a viewer reads
for today, 7 and 30 days, with open holds, disputes and webhook health)."""
