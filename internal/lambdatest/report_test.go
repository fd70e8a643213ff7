package lambdatest_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keysweep/keysweep/internal/lambdatest"
	"github.com/keysweep/keysweep/internal/testenv/huaweiiam"
)

// reportSummary is the sweeper's answer with its targets' runs and report.
type reportSummary struct {
	summary
	Targets []summary `json:"targets"`
	Report  string    `json:"report"`
	Object  string    `json:"reportObject"`
	Notes   []string  `json:"notes"`
}

// TestScheduledSweepOfTargetsWithReport: the deployed sweeper with
// ReportBucket=true and an OTC domain in Targets, its AK/SK in a Secrets
// Manager secret (on the emulator; the domain on keysweep's local stand-in
// for Huawei's IAM): the schedule sweeps the account and the domain, and
// the posture report of both lands in the stack's bucket, linked from the
// answer.
func TestScheduledSweepOfTargetsWithReport(t *testing.T) {
	e := newEnv(t, nil)
	e.userWithKey(e.iam, "", "aws-old", 400, 200)
	e.putPolicy(enforcePolicy)
	otc := huaweiiam.Start(t, huaweiiam.Options{})
	idle := otc.AddKey(otc.AddUser("otc-idle", nil), e.now.AddDate(0, 0, -200), nil)
	c := otc.Caller()
	raw, _ := json.Marshal(map[string]string{"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey,
		"domainId": otc.DomainID(), "endpoint": otc.URL})
	sec, err := secretsmanager.NewFromConfig(e.cfg).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("keysweep/otc"), SecretString: aws.String(string(raw)),
	})
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := json.Marshal([]map[string]string{{"name": "otc", "provider": "huawei", "secretArn": aws.ToString(sec.ARN)}})
	e.stack, err = lambdatest.NewStack(context.Background(), e.cfg, repoTemplate(t), lambdatest.StackOptions{Parameters: map[string]string{
		"ReportBucket": "true", "Targets": string(targets), "TargetSecretArns": aws.ToString(sec.ARN),
	}})
	if err != nil {
		t.Fatal(err)
	}

	fn := lambdatest.Run(t, e.stack, "SweeperFunction")
	sum := answer[reportSummary](t, invoke(t, fn, event(t, "schedule.json")))
	if sum.Outcome != "completed" || len(sum.Targets) != 1 || sum.Targets[0].Outcome != "completed" {
		t.Fatalf("runs %+v; want the account's and the domain's completed", sum)
	}
	if got := sum.Targets[0].actions()[idle]; got != "deactivate/planned" {
		t.Errorf("the domain's idle key: %q, want deactivate/planned (no policy of its own: the built-in audit one)", got)
	}
	bucket := e.ref("ReportsBucket")
	key, ok := strings.CutPrefix(sum.Object, "s3://"+bucket+"/")
	if !ok || !strings.HasPrefix(key, "reports/"+e.now.Format("2006/01/02")+"/") || !strings.Contains(sum.Report, key) {
		t.Fatalf("report %q at %q; want an object in %s and a link to it", sum.Report, sum.Object, bucket)
	}
	out, err := s3.NewFromConfig(e.cfg).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("read the report: %v", err)
	}
	page, _ := io.ReadAll(out.Body)
	out.Body.Close()
	for _, want := range []string{"aws-old", "otc-idle", "rie-1", sum.RunID} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the report does not show %q", want)
		}
	}
	if notes := strings.Join(sum.Notes, "\n"); !strings.Contains(notes, "session lasts") {
		t.Errorf("notes %q do not say how long the link lasts", notes)
	}
}
