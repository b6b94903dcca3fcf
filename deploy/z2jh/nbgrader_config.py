"""nbgrader's site-wide configuration in the single-user image: ngshare is the exchange.

nbgrader's default exchange is a folder every user's server can write to; on Kubernetes
each user has a pod of their own and no such folder. ngshare (a JupyterHub service) keeps
the exchange instead; ngshare_exchange points nbgrader's exchange classes at it. The URL
is the ngshare release's service in the hub's namespace: change `course` (the namespace)
and the release name `ngshare` if yours differ (`helm install` of ngshare prints it).
"""
from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

configureExchange(c, "http://ngshare.course.svc.cluster.local:8080/services/ngshare")
# Students see every course ngshare has them enrolled in, without a per-course config.
c.CourseDirectory.course_id = "*"
