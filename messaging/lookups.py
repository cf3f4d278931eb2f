"""`field__any=[…]`: membership in a long list as ONE array parameter on PostgreSQL
(`field = ANY(%s)`), instead of `IN (%s, %s, …)` with a placeholder per value — for the
thousands of contact ids of one bulk batch, composing and sending that statement cost more
than running it. Elsewhere (SQLite) it is `IN`, as `__in`."""

from django.db.models import Field, ForeignObject
from django.db.models.lookups import In


@Field.register_lookup
@ForeignObject.register_lookup  # foreign keys keep lookups of their own (contact_id__any)
class AnyOf(In):
    lookup_name = "any"

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return super().as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [self.lhs.output_field.get_db_prep_value(v, connection, prepared=False) for v in self.rhs]
        return f"{lhs} = ANY(%s)", (*lhs_params, values)
