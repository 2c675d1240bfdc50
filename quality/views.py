from django.http import HttpResponse


def project_dashboard(request, project_pk):
    return HttpResponse("ops")
