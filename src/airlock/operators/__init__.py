"""Standard operators: PythonOperator, EmptyOperator, and more to come."""
