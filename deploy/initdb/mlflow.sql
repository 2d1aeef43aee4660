-- a second database for MLflow next to Prefect's (run once by the postgres image)
CREATE DATABASE mlflow;
