# Shared by every server, as DolphinScheduler's dolphinscheduler_env.sh is:
# parsed by daemonctl, never executed.
export REGION=${REGION:-eu-west}
export DATABASE_URL="postgres://demo@127.0.0.1:5432/demo"
export DATABASE_PASSWORD=not-a-real-secret
