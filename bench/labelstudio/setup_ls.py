"""Create the benchmark's users inside Label Studio's own Django (run by run.sh with LS's venv,
cwd = the installed label_studio package, DJANGO_SETTINGS_MODULE=core.settings.label_studio).

    python setup_ls.py N OUT_DIR

Creates one organization ("bench", with legacy API tokens enabled, as
LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true does for `label-studio start`), an admin owning it,
and N annotators who are members of it (in Label Studio Community every member of an
organization can work on all its projects: that is the access grant). Writes OUT_DIR/admin.token
and OUT_DIR/tokens.txt (one annotator token per line). Idempotent.
"""
import os
import sys

import django

django.setup()

from organizations.models import Organization  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from users.models import User  # noqa: E402


def user(email, org=None, staff=False):
    u = User.objects.filter(email=email).first()
    if u is None:
        u = User.objects.create_user(email=email, password='bench-password-not-secret')
        if staff:
            u.is_staff = u.is_superuser = True
            u.save()
    if org is not None:
        org.add_user(u)
        if u.active_organization_id != org.id:
            u.active_organization = org
            u.save(update_fields=['active_organization'])
    return u


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    admin = user('admin@bench.local', staff=True)
    org = Organization.objects.filter(title='bench').first()
    if org is None:
        org = Organization.create_organization(created_by=admin, title='bench', legacy_api_tokens_enabled=True)
    jwt = org.jwt
    if not jwt.legacy_api_tokens_enabled:
        jwt.legacy_api_tokens_enabled = True
        jwt.save()
    user('admin@bench.local', org)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'admin.token'), 'w') as f:
        f.write(Token.objects.get_or_create(user=admin)[0].key + '\n')
    keys = []
    for i in range(n):
        u = user(f'annotator{i:03d}@bench.local', org)
        keys.append(Token.objects.get_or_create(user=u)[0].key)
    with open(os.path.join(out, 'tokens.txt'), 'w') as f:
        f.write('\n'.join(keys) + '\n')
    print(f'org {org.id}: admin + {n} annotators, tokens in {out}')


main()
