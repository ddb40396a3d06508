"""Plan-of-care routes of the JSON API."""

from flask import g

from notes_service.api import api_route, load_json
from notes_service.plans import services
from notes_service.plans.schemas import (
    DischargeSchema,
    PlanInputSchema,
    PlanSchema,
    PlanUpdateSchema,
)


@api_route("/patients/<int:patient_id>/plans", "POST", summary="Start a plan of care",
           tag="plans", body=PlanInputSchema, response=PlanSchema, status=201,
           errors=(401, 403, 404, 422))
def create_plan(patient_id, data):
    return services.create_plan(g.actor, patient_id, data)


@api_route("/patients/<int:patient_id>/plans", summary="List a patient's plans of care",
           tag="plans", response=PlanSchema, many=True, errors=(401, 404))
def list_plans(patient_id):
    return services.list_plans(g.actor, patient_id)


@api_route("/plans/<int:plan_id>", summary="Read a plan of care", tag="plans",
           response=PlanSchema, errors=(401, 404))
def get_plan_route(plan_id):
    return services.read_plan(g.actor, plan_id)


@api_route("/plans/<int:plan_id>", "PATCH", summary="Change a plan of care", tag="plans",
           body=PlanUpdateSchema, load_body=False, partial=True, response=PlanSchema,
           errors=(401, 403, 404, 409, 422))
def update_plan(plan_id):
    plan = services.plan_for_change(g.actor, plan_id)  # 404, 403, 409 before the body
    data = load_json(PlanUpdateSchema(plan=plan, partial=True))
    return services.update_plan(g.actor, plan_id, data, dump=PlanSchema().dump)


@api_route("/plans/<int:plan_id>/discharge", "POST", summary="Discharge a plan of care",
           tag="plans", body=DischargeSchema, response=PlanSchema,
           errors=(401, 403, 404, 409, 422))
def discharge_plan(plan_id, data):
    return services.discharge_plan(g.actor, plan_id, data)
