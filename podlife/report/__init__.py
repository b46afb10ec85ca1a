"""Reports: ``reports/summary.json`` per claim, and evidence attached to Allure."""
