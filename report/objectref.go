package report

// String names the object as errors, logs and titles do: Kind/namespace/name, or Kind/name for
// a cluster-scoped object, e.g. Deployment/default/nginx-deployment.
func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}
