# Read by the `flask` command in a checkout (python-dotenv); never by gunicorn in production.
FLASK_APP=app
TRACKER_ENV=development
