-- A version or execution always belongs to the tenant of its function, enforced by the database.
ALTER TABLE functions ADD CONSTRAINT functions_id_tenant UNIQUE (id, tenant_id);
ALTER TABLE function_versions
    ADD CONSTRAINT function_versions_same_tenant FOREIGN KEY (function_id, tenant_id)
    REFERENCES functions (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE executions
    ADD CONSTRAINT executions_same_tenant FOREIGN KEY (function_id, tenant_id)
    REFERENCES functions (id, tenant_id) ON DELETE CASCADE;
