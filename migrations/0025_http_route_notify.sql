-- Every web process caches its tenants' HTTP trigger routes (web/http_triggers/route_cache.py) and
-- drops them when this NOTIFY says they changed: the tenant id whose HTTP functions changed in a
-- way the routing reads (store/http_bindings.py's columns), or '*' when a tenant slug changed.
-- NOTIFY is delivered at commit, to every listening process of every host.
CREATE OR REPLACE FUNCTION pnil_http_routes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.trigger_type = 'HTTP' THEN
            PERFORM pg_notify('pnil_http_routes', NEW.tenant_id::text);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.trigger_type = 'HTTP' THEN
            PERFORM pg_notify('pnil_http_routes', OLD.tenant_id::text);
        END IF;
    ELSIF (OLD.trigger_type = 'HTTP' OR NEW.trigger_type = 'HTTP')
          AND (OLD.tenant_id, OLD.name, OLD.trigger_type, OLD.http_path, OLD.http_methods, OLD.http_auth,
               OLD.state, OLD.status, OLD.http_detailed_errors)
              IS DISTINCT FROM
              (NEW.tenant_id, NEW.name, NEW.trigger_type, NEW.http_path, NEW.http_methods, NEW.http_auth,
               NEW.state, NEW.status, NEW.http_detailed_errors) THEN
        PERFORM pg_notify('pnil_http_routes', NEW.tenant_id::text);
        IF OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
            PERFORM pg_notify('pnil_http_routes', OLD.tenant_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS functions_http_routes ON functions;
CREATE TRIGGER functions_http_routes AFTER INSERT OR UPDATE OR DELETE ON functions
    FOR EACH ROW EXECUTE FUNCTION pnil_http_routes_changed();

CREATE OR REPLACE FUNCTION pnil_http_tenants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pnil_http_routes', '*');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS tenants_http_routes ON tenants;
CREATE TRIGGER tenants_http_routes AFTER INSERT OR DELETE OR UPDATE OF slug ON tenants
    FOR EACH ROW EXECUTE FUNCTION pnil_http_tenants_changed();
