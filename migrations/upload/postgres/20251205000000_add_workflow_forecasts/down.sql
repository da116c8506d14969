DROP TABLE workflow_forecasts;
