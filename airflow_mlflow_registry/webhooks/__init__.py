"""MLflow registry webhooks received by the Airflow api-server.

An MLflow 3.3+ server with a SQL store POSTs a signed delivery for each registry change to
``<api-server>/mlflow-registry/webhooks/<conn-id>``. The receiver, an Airflow plugin mounted on
the api-server, verifies it and records the change as an asset event on
``model_asset(conn_id, model)``, the asset the registry-event trigger and the operators use.

The rooms: :mod:`.signature` (what makes a delivery authentic), :mod:`.changes` (what a delivery
says, the events it becomes, and the de-duplication both paths share), :mod:`.shared_secret` (where
the shared secret lives), :mod:`.recording` (the asset event, in the metadata DB),
:mod:`.receiver` (the HTTP endpoint) and :mod:`.plugin` (how Airflow finds it).
"""
