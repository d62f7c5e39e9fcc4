package envfile

import "testing"

func TestMasker(t *testing.T) {
	env := FromEnviron([]string{
		"DB_PASSWORD=hunter2",
		"SPRING_DATASOURCE_URL=jdbc:mysql://ds:hunter2@db:3306/ds",
		"REDIS_AUTH=s3cr3tredis",
		"PIN=12", // too short to hide inside other values
		"JAVA_OPTS=-Xmx1g",
		"TIMEOUT=12s",
	})
	m := NewMasker(env)
	for key, want := range map[string]string{
		"DB_PASSWORD":           Masked,
		"SPRING_DATASOURCE_URL": "jdbc:mysql://ds:" + Masked + "@db:3306/ds",
		"REDIS_AUTH":            Masked,
		"JAVA_OPTS":             "-Xmx1g",
		"TIMEOUT":               "12s",
		"PIN":                   "12",
	} {
		v, _ := env.Get(key)
		if got := m.Mask(key, v); got != want {
			t.Errorf("Mask(%s) = %q, want %q", key, got, want)
		}
	}
	for key, secret := range map[string]bool{"SPRING_DATASOURCE_PASSWORD": true, "DB_PASSWD": true, "API_KEY": true, "GITHUB_TOKEN": true, "REDIS_AUTH": true, "JAVA_OPTS": false, "SPRING_DATASOURCE_USERNAME": false} {
		if got := m.Mask(key, "v") == Masked; got != secret {
			t.Errorf("Mask(%s) hides its value: %v, want %v", key, got, secret)
		}
	}
}
