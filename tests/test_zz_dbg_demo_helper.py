import os
from django.conf import settings
def test_x():
    print("ENV", os.environ["SII_REDIS_URL"], "SET", settings.SII_REDIS_URL)
